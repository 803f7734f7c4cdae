"""The `emoscan` command line: predict, video, live, batch, serve, import-champion."""
