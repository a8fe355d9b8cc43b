"""What strategies see of the market: snapshots, and the feeds (live and replay) that make them."""
