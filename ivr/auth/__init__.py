"""Who may do what: API tokens, PINs, and the rate limits that guard both."""
