"""Coming from JMeter: its results and test plans brought into llmload (`llmload import jtl|jmx`).

Results (.jtl, CSV or XML) become a run directory that `llmload report` and `llmload compare` read:
jtl_sample (one JMeter sample, the column names), jtl_csv and jtl_xml (the two file forms), jtl_records
(sample -> llmload record), jtl_steps (the load steps), jtl_import (writes the run directory).
Test plans (.jmx) become a run.toml and a chat dataset: jmx_tree (the plan's XML), jmx_threads (thread
groups -> user steps), jmx_http (the HTTP request, headers, CSV data sets), jmx_body (request bodies ->
dataset rows), jmx_import (writes both). import_command is the CLI's entry. Files are written only by
jtl_import and jmx_import; the rest parses and maps.
"""
