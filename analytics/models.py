"""Publications, the release gate's inputs, and AI usage per team x day."""
