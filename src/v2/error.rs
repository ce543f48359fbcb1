//! The v2 API's errors belong to the crate's error module
//! (`crate::error::v2`), since [`Error::V2`](crate::Error::V2) carries
//! them and the error module sits below every API; the v2 modules and
//! users reach them here, as before.

pub(crate) use crate::error::v2::{bad_answer, from_answer};
pub use crate::error::v2::{ErrorKind, V2Error};
