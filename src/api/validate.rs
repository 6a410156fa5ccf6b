//! Checks shared by several resources.

use super::error::ApiError;

/// A display name: not blank, at most 200 characters.
pub fn name(raw: &str) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_name",
            "name must be 1 to 200 characters",
        ));
    }
    Ok(trimmed.to_string())
}
