//! What `shiplog serve` sets up around the app so that many connections at
//! once are served rather than left waiting (bench/load.sh): the open-files
//! limit, the listening socket's accept queue, and memory handed back to the
//! system when a worker thread goes idle.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpSocket};

/// How many connections the kernel may hold, made but not yet accepted.
/// Tokio's `TcpListener::bind` asks for 128, as std does: a thousand clients
/// connecting at once overflowed it, the kernel dropped their SYNs, and they
/// waited 1 s, 3 s… to retry. Linux caps it at `net.core.somaxconn` (4096 by
/// default since 5.4).
pub const BACKLOG: u32 = 4096;

/// Listens on `addr` (reusing a port left in TIME_WAIT, as `bind` does) with
/// an accept queue of [`BACKLOG`] connections. Needs a Tokio runtime.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The most files the open-files limit is raised to, whatever the hard limit
/// (Linux's default `fs.nr_open`; an unlimited hard limit cannot be the soft one).
#[cfg(unix)]
const MOST_FILES: libc::rlim_t = 1 << 20;

/// Raises the soft limit on open files to the hard limit, as Go programs do
/// at start-up. Each connection takes a file: under systemd the soft limit is
/// 1,024 (the hard one 524,288), so past about a thousand connections the
/// server could not accept more, and they waited, unanswered, in the accept
/// queue. Answers the soft limit before and after.
#[cfg(unix)]
pub fn raise_open_files_limit() -> std::io::Result<(libc::rlim_t, libc::rlim_t)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into memory we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    let wanted = limit.rlim_max.min(MOST_FILES);
    if before >= wanted {
        return Ok((before, before));
    }
    limit.rlim_cur = wanted;
    // SAFETY: setrlimit reads one rlimit from memory we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((before, wanted))
}

extern "C" {
    /// mimalloc, the global allocator: hands back to the system what the
    /// calling thread's heap holds free (`force`: at once, rather than after
    /// mimalloc's purge delay of a second).
    fn mi_collect(force: bool);
}

/// Run by each Tokio worker thread as it goes idle. mimalloc returns a
/// thread's emptied pages, and the blocks other threads freed into them,
/// only when that thread allocates again: after 1,000 connections the server
/// held 129 MB for as long as no request came, 77 MB with this (the rest is
/// the SQLite and page caches; bench/load.sh). Cheap, with no system call
/// unless memory is due back, and a worker runs it only when it has nothing
/// else to do.
pub fn on_worker_idle() {
    // SAFETY: mi_collect takes no pointers and may be called on any thread.
    unsafe { mi_collect(false) }
}

/// Hands back at once what start-up (migrations, the route list, the search
/// text) allocated and freed, before the server waits for its first request.
pub fn return_free_memory() {
    // SAFETY: as in on_worker_idle.
    unsafe { mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's cap on any listen backlog.
    fn somaxconn() -> usize {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4096)
    }

    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_accept_queue_instead_of_being_dropped() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // More than tokio's default queue of 128 holds, and no more than the
        // kernel allows any queue.
        let burst = 600.min(somaxconn().saturating_sub(1));
        if burst <= 129 {
            eprintln!(
                "net.core.somaxconn is {}: every backlog is that small here; nothing to check",
                somaxconn()
            );
            return;
        }
        // Nothing is accepted: every connection has to wait in the queue.
        let connected = tokio::task::spawn_blocking(move || {
            let mut streams = Vec::new();
            for _ in 0..burst {
                match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))
                {
                    Ok(s) => streams.push(s),
                    Err(_) => break,
                }
            }
            streams.len()
        })
        .await
        .unwrap();
        assert_eq!(
            connected, burst,
            "only {connected} of {burst} connections were made while the server accepted none"
        );
        drop(listener);
    }

    #[cfg(unix)]
    fn limits() -> (libc::rlim_t, libc::rlim_t) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into memory we own.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        (limit.rlim_cur, limit.rlim_max)
    }

    /// Run by `the_open_files_limit_is_raised_to_the_hard_one`, in a child
    /// process started with a soft limit of 256.
    #[cfg(unix)]
    #[test]
    #[ignore = "run by the_open_files_limit_is_raised_to_the_hard_one in a child process"]
    fn child_raises_its_open_files_limit() {
        assert_eq!(limits().0, 256, "the child starts with a soft limit of 256");
        let (before, after) = raise_open_files_limit().unwrap();
        let (soft, hard) = limits();
        assert_eq!(before, 256);
        assert_eq!(after, soft);
        assert_eq!(
            soft,
            hard.min(MOST_FILES),
            "the soft limit is raised to the hard one"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_one() {
        use std::os::unix::process::CommandExt;
        let hard = limits().1;
        if hard <= 256 {
            eprintln!("the hard open-files limit is {hard}: nothing to raise to here");
            return;
        }
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args([
            "--exact",
            "serving::tests::child_raises_its_open_files_limit",
            "--ignored",
            "--test-threads=1",
        ]);
        // SAFETY: between fork and exec only setrlimit runs, which is async-signal-safe.
        unsafe {
            child.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: 256,
                    rlim_max: hard,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = child.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "the child failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
