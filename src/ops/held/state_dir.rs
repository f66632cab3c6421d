//! The directory this machine keeps its copies of held locks in, used the way ssh and gpg use
//! theirs: it must belong to the user and let nobody else in (0700), or it is refused with an
//! error that says how to fix it. Once checked, the directory is held open and every file is
//! reached through that handle (`openat`), so swapping a path component afterwards changes
//! nothing. Files are created `0600` under a fresh unpredictable name with `O_EXCL |
//! O_NOFOLLOW`, then renamed into place; a copy is read only if it is a regular file of this
//! user, opened without following a link or blocking on a FIFO, and read only up to a bound.

use crate::config::EnvLookup;
use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A copy is a few hundred bytes; anything larger is not one.
pub const MAX_COPY_BYTES: u64 = 16 * 1024;

/// The directory copies live in, checked and open.
pub struct StateDir {
    #[cfg(unix)]
    dir: std::fs::File,
    #[cfg(not(unix))]
    path: PathBuf,
}

/// Where copies are kept: `DAPLAYA_STATE_DIR` (set but empty: nowhere), else
/// `$XDG_RUNTIME_DIR/daplaya`, else `~/.cache/daplaya`.
pub fn configured(env: EnvLookup<'_>) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(dir) = env("DAPLAYA_STATE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    set("XDG_RUNTIME_DIR")
        .map(|dir| PathBuf::from(dir).join("daplaya"))
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache").join("daplaya")))
}

fn refused(path: &Path, why: &str, hint: String) -> Error {
    Error::usage_with_hint(format!("state dir {}: {why}", path.display()), hint)
}

fn elsewhere() -> String {
    "set DAPLAYA_STATE_DIR to a directory of your own, mode 0700 (empty: keep no copies)".into()
}

impl StateDir {
    /// Opens the state dir at `path`, creating it (0700) when it does not exist. `Ok(None)`
    /// when it cannot be created (a read-only home): copies only save requests. An existing
    /// directory that is not the user's own, or that others may enter, is refused.
    pub fn open(path: &Path) -> Result<Option<StateDir>> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if std::fs::create_dir_all(parent).is_err() {
                return Ok(None);
            }
        }
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return Ok(None),
        }
        Self::checked(path).map(Some)
    }

    #[cfg(unix)]
    fn checked(path: &Path) -> Result<StateDir> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_symlink()) {
            let hint = "point DAPLAYA_STATE_DIR at the directory itself".into();
            return Err(refused(path, "is a symbolic link", hint));
        }
        // Opened without following a link: swapped for one since the check, it fails here.
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|error| match error.raw_os_error() {
                Some(libc::ELOOP) => refused(
                    path,
                    "is a symbolic link",
                    "point DAPLAYA_STATE_DIR at the directory itself".into(),
                ),
                Some(libc::ENOTDIR) => refused(path, "is not a directory", elsewhere()),
                _ => refused(path, &error.to_string(), elsewhere()),
            })?;
        let meta = dir
            .metadata()
            .map_err(|error| refused(path, &error.to_string(), elsewhere()))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            let why = format!("belongs to uid {}, not to you (uid {me})", meta.uid());
            return Err(refused(path, &why, elsewhere()));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            let why = format!("is open to other users (mode {mode:04o}): copies of your locks must be yours alone");
            let hint = format!("chmod 700 {}", path.display());
            return Err(refused(path, &why, hint));
        }
        Ok(StateDir { dir })
    }

    #[cfg(not(unix))]
    fn checked(path: &Path) -> Result<StateDir> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(StateDir {
                path: path.to_path_buf(),
            }),
            Ok(_) => Err(refused(path, "is not a directory", elsewhere())),
            Err(error) => Err(refused(path, &error.to_string(), elsewhere())),
        }
    }

    /// Writes `bytes` as the file `name`, whole: under a fresh name first (created, never
    /// followed, 0600), then renamed over `name`, so a reader never sees half a copy.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let partial = format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple());
        let written = self.create(&partial).and_then(|mut file| {
            std::io::Write::write_all(&mut file, bytes)?;
            self.rename(&partial, name)
        });
        if written.is_err() {
            self.remove(&partial);
        }
        written
    }

    /// The file `name`, if it is a regular file of this user no larger than
    /// [`MAX_COPY_BYTES`]: anything else (a FIFO, a device, a link, a huge file) reads as no
    /// copy, at once.
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        let file = self.open_existing(name).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_COPY_BYTES || !self.owned(&meta) {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(MAX_COPY_BYTES + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= MAX_COPY_BYTES).then_some(bytes)
    }

    #[cfg(unix)]
    fn owned(&self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        meta.uid() == unsafe { libc::geteuid() }
    }

    #[cfg(not(unix))]
    fn owned(&self, _meta: &std::fs::Metadata) -> bool {
        true
    }
}

#[cfg(unix)]
mod at {
    //! The file operations of a state dir, relative to its open handle.
    use super::StateDir;
    use std::ffi::CString;
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd};

    fn c_name(name: &str) -> io::Result<CString> {
        if name.contains('/') {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    }

    fn opened(fd: libc::c_int) -> io::Result<File> {
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    impl StateDir {
        pub(super) fn create(&self, name: &str) -> io::Result<File> {
            let name = c_name(name)?;
            let flags =
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            // SAFETY: a valid directory fd, a NUL-terminated name, and a mode for O_CREAT.
            opened(unsafe {
                libc::openat(
                    self.dir.as_raw_fd(),
                    name.as_ptr(),
                    flags,
                    0o600 as libc::c_uint,
                )
            })
        }

        pub(super) fn open_existing(&self, name: &str) -> io::Result<File> {
            let name = c_name(name)?;
            // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
            let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
            // SAFETY: a valid directory fd and a NUL-terminated name.
            opened(unsafe { libc::openat(self.dir.as_raw_fd(), name.as_ptr(), flags) })
        }

        pub(super) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            let (from, to) = (c_name(from)?, c_name(to)?);
            let fd = self.dir.as_raw_fd();
            // SAFETY: valid directory fds and NUL-terminated names.
            match unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) } {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            }
        }

        /// Removes the file `name`; one already gone is fine.
        pub fn remove(&self, name: &str) {
            if let Ok(name) = c_name(name) {
                // SAFETY: a valid directory fd and a NUL-terminated name.
                let _gone_already_is_fine =
                    unsafe { libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr(), 0) };
            }
        }
    }
}

#[cfg(not(unix))]
mod at {
    //! Without `openat`, by path inside the checked directory.
    use super::StateDir;
    use std::fs::File;
    use std::io;

    impl StateDir {
        pub(super) fn create(&self, name: &str) -> io::Result<File> {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.path.join(name))
        }

        pub(super) fn open_existing(&self, name: &str) -> io::Result<File> {
            let path = self.path.join(name);
            if !std::fs::symlink_metadata(&path)?.is_file() {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            }
            File::open(path)
        }

        pub(super) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            std::fs::rename(self.path.join(from), self.path.join(to))
        }

        pub fn remove(&self, name: &str) {
            let _gone_already_is_fine = std::fs::remove_file(self.path.join(name));
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_state_dir_is_0700_and_its_files_0600_whatever_the_umask() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("deep").join("state");
        // SAFETY: umask has no preconditions; the test restores it.
        let before = unsafe { libc::umask(0) };
        let dir = StateDir::open(&path).unwrap().unwrap();
        dir.write("copy.json", b"{}").unwrap();
        unsafe { libc::umask(before) };
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&path.join("copy.json")), 0o600);
        assert_eq!(dir.read("copy.json").unwrap(), b"{}");
        let names: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["copy.json"], "no partial file left");
    }

    #[test]
    fn a_dir_others_may_enter_or_a_link_to_one_is_refused_with_the_fix() {
        let parent = tempfile::tempdir().unwrap();
        let open = parent.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = StateDir::open(&open).err().unwrap();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.to_string().ends_with(
                "is open to other users (mode 0777): copies of your locks must be yours alone"
            ),
            "{error}"
        );
        assert_eq!(
            error.hint().unwrap(),
            format!("chmod 700 {}", open.display())
        );
        assert_eq!(mode(&open), 0o777, "left as it is");
        let own = parent.path().join("own");
        std::fs::create_dir(&own).unwrap();
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = parent.path().join("link");
        symlink(&own, &link).unwrap();
        let error = StateDir::open(&link).err().unwrap();
        assert!(error.to_string().ends_with("is a symbolic link"), "{error}");
        let file = parent.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(StateDir::open(&file).is_err());
    }

    #[test]
    fn a_write_never_follows_a_link_and_a_read_takes_only_a_small_regular_file() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("state");
        let dir = StateDir::open(&path).unwrap().unwrap();
        let victim = parent.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        // A link planted under the very name a temporary file would take is never written
        // through (O_EXCL | O_NOFOLLOW), and one planted as the copy is replaced, not followed.
        symlink(&victim, path.join(".planted.tmp")).unwrap();
        assert!(dir.create(".planted.tmp").is_err());
        symlink(&victim, path.join("copy.json")).unwrap();
        assert_eq!(dir.read("copy.json"), None, "a link is not read");
        dir.write("copy.json", b"{\"new\":1}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(dir.read("copy.json").unwrap(), b"{\"new\":1}");
        // A FIFO is not waited on; a large file is not read.
        let fifo = std::ffi::CString::new(path.join("fifo.json").to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert_eq!(dir.read("fifo.json"), None);
        let big = std::fs::File::create(path.join("big.json")).unwrap();
        big.set_len(1 << 30).unwrap();
        assert_eq!(dir.read("big.json"), None);
        assert_eq!(dir.read("../victim"), None, "names stay inside the dir");
    }
}
