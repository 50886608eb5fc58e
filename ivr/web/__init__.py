"""The aiohttp API and dashboard for coordinators and staff."""
