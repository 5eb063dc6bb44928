"""End-to-end tests: the dashboard in Debian's chromium, driven by Playwright (marker ``e2e``)."""
