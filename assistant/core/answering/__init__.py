"""The answering kernel: reading, candidates, scorers, assembly — one extractive answerer for every scorer."""
