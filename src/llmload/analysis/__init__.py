"""What a run measured, computed from its raw files (pandas, numpy; never drawn or formatted for display).
pipeline.analyze_run shows the flow: frame -> steps -> SLO -> knee -> capacity -> RunAnalysis (model)."""
