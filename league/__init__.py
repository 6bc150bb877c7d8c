"""The persistent league: snapshot pool, match ledger, matchmaking, promotion, learners and reports."""
