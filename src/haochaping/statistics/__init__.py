"""Supervision statistics (issue 6): pre-aggregated rollups of the evaluations, the metrics,
fair rankings and focus lists read from them (A5, B2, F6, G1-G3)."""
