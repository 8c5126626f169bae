"""Seven-year retention: archives that verify byte for byte, pruning that
refuses to lose what retention keeps, and the fills export for tax records."""
