"""The `emoscan` command line: predict, video, live, import-champion."""
