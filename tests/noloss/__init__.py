"""No-loss matrix: every run mode, counted at the OTLP sink (issue 12, issue 19 items 6-7)."""
