"""sadutils."""
