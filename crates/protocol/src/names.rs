//! The rules for topic and group names (docs/PROTOCOL.md): 1 to
//! [`NAME_BYTES_MAX`] bytes of `[a-zA-Z0-9._-]`; a topic may not be `.` or
//! `..` (its name is a directory). Shared by the broker, which refuses bad
//! names with their error codes, and the client, which refuses them before
//! sending.

use crate::limits::NAME_BYTES_MAX;

/// Checks a topic name: `[a-zA-Z0-9._-]{1,249}`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    validate("topic", name)?;
    if name == "." || name == ".." {
        return Err(format!("topic name {name:?} is reserved"));
    }
    Ok(())
}

/// Checks a group name: `[a-zA-Z0-9._-]{1,249}`.
pub fn validate_group_name(group: &str) -> Result<(), String> {
    validate("group", group)
}

fn validate(kind: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > NAME_BYTES_MAX {
        return Err(format!(
            "{kind} name must be 1 to {NAME_BYTES_MAX} characters"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{kind} name may hold only [a-zA-Z0-9._-], not {bad:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_the_rule() {
        for good in ["a", "orders", "a.b-c_d", "X9", &"n".repeat(249)] {
            assert_eq!(validate_topic_name(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "a b", "a/b", "é", &"n".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn group_names_follow_the_rule() {
        for good in ["billing.v2_x-1", ".", "..", "__x", &"g".repeat(249)] {
            assert_eq!(validate_group_name(good), Ok(()), "{good}");
        }
        for bad in ["", "a b", "a/b", &"g".repeat(250)] {
            assert!(validate_group_name(bad).is_err(), "{bad:?}");
        }
    }
}
