"""Evaluation: tournaments, win/draw/loss statistics, TrueSkill tables, reports (evaluation issue)."""
