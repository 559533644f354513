//! The product catalogue named by `--catalog` / `JPSTART_CATALOG`, shared by
//! `serve` and `admin` so both accept the same slugs.

use std::path::Path;

use jpstart_server::domain::Catalogue;

/// The catalogue in `path` (JSON, the built-in one's format), or the built-in
/// one without a path. The error names the file.
pub fn load(path: Option<&Path>) -> Result<Catalogue, String> {
    let Some(path) = path else {
        return Ok(Catalogue::builtin());
    };
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| Catalogue::from_json(&t).map_err(|e| e.to_string()))
        .map_err(|e| format!("catalogue {}: {e}", path.display()))
}
