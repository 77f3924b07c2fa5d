//! Integration test support for Ringside.
