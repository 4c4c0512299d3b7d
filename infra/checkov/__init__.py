"""Custom checkov checks for what checkov's bicep framework lacks (loaded with --external-checks-dir)."""
