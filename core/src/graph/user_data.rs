//! Instance user data.
