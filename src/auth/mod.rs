//! Identity and access. The foundation has password hashing; the identity work adds tokens,
//! sessions, MFA and the policy table here.

pub mod password;
