"""BentoML service: /detect (images), /detect-video, /metadata, with size and rate limits."""
