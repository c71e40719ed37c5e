"""Formula scores with explanations and threshold grades (PL-11)."""
