# SPDX-License-Identifier: GPL-2.0-only
"""Helpers for integration tests that boot real guests under KVM."""
