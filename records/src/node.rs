//! The node's stable id: what its call logs carry (`node_id`) so that, after a crash, the node finds and
//! closes the calls it left in progress, and no other node's. `VOICERA_NODE_ID` when set (containers whose
//! data dir is not kept), else `<data-dir>/node-id`, made on first start.

use std::path::Path;

use crate::RecordsError;

/// The file under the data dir holding the node id.
pub const NODE_ID_FILE: &str = "node-id";

/// The node id: `from_env` when non-empty, else the data dir's file, created (`node-<16 hex>`) if missing.
pub fn node_id(data_dir: &Path, from_env: Option<&str>) -> Result<String, RecordsError> {
    if let Some(id) = from_env.map(str::trim).filter(|id| !id.is_empty()) {
        return Ok(id.to_string());
    }
    let path = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RecordsError::io(&path, e)),
    }
    let id = format!("node-{:016x}", rand::random::<u64>());
    std::fs::create_dir_all(data_dir).map_err(|e| RecordsError::io(data_dir, e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{id}\n")).map_err(|e| RecordsError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| RecordsError::io(&path, e))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_made_once_and_kept_unless_the_environment_names_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = node_id(dir.path(), None).unwrap();
        assert!(first.starts_with("node-") && first.len() == 21, "{first}");
        assert_eq!(node_id(dir.path(), None).unwrap(), first);
        assert_eq!(node_id(dir.path(), Some("")).unwrap(), first);
        assert_eq!(node_id(dir.path(), Some(" media-7 ")).unwrap(), "media-7");
        assert_ne!(node_id(tempfile::tempdir().unwrap().path(), None).unwrap(), first);
    }
}
