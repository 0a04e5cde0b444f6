"""Read models across domains (usage summaries, the sandbox boundary): above every domain.

A report may read any domain's rows and services; no domain imports a report.
"""
