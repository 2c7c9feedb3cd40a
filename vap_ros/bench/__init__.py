"""Benchmarks behind ``vap-ros bench``. Each returns a flat report dict."""
