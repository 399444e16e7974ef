"""A run's analysis written and drawn: summary.json, steps.csv, requests.csv, junit.xml, report.html (build),
the CI gates and their verdict, and `llmload compare`."""
