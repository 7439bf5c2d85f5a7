"""Verify stage: Linux's verifier rules, strategy hooks inside (issue 5)."""
