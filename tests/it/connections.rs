//! Slow, silent and greedy clients against the real binary: with an
//! open-files limit of 1,024, a thousand silent connections from one address
//! never stop others being served, and are closed after the header timeout;
//! half-sent heads and bodies and idle kept-alive connections are closed in
//! their time; and SIGTERM exits within its bound while such clients hang on.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Shiplog server process on a fresh SQLite database.
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `shiplog serve` with these settings and an open-files limit of
/// `files` (soft and hard, so the server cannot raise it).
fn start(files: u64, settings: &[(&str, &str)]) -> Server {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shiplog"));
    cmd.arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/shiplog.db", dir.path().display()),
        )
        .env("SHIPLOG_LISTEN", addr.to_string())
        .env("SHIPLOG_MAIL_DIR", dir.path().join("mail"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in settings {
        cmd.env(k, v);
    }
    // SAFETY: between fork and exec only setrlimit runs, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: files as libc::rlim_t,
                rlim_max: files as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("the binary starts");
    let server = Server {
        child,
        addr,
        _dir: dir,
    };
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(60) {
        if get(server.addr, None, "/healthz").is_some() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not start");
}

/// Raises this process's own open-files limit to its hard limit (the
/// attacker side needs more than a thousand).
fn more_files_here() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write one rlimit we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

/// A connection from `from` (another loopback address) or from 127.0.0.1.
fn connect(addr: SocketAddr, from: Option<[u8; 4]>) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Some(ip) = from {
        socket.bind(&SocketAddr::from((ip, 0)).into())?;
    }
    socket.connect_timeout(&addr.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// The status of `GET path`, or `None` if no answer came within 5 s.
fn get(addr: SocketAddr, from: Option<[u8; 4]>, path: &str) -> Option<u16> {
    let mut s = connect(addr, from).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Whether the server closes `s` (a read ends or fails) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let began = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {
                if began.elapsed() > within {
                    return false;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

const QUICK: [(&str, &str); 4] = [
    ("SHIPLOG_HEADER_TIMEOUT_SECONDS", "2"),
    ("SHIPLOG_BODY_TIMEOUT_SECONDS", "2"),
    ("SHIPLOG_IDLE_TIMEOUT_SECONDS", "2"),
    ("SHIPLOG_SHUTDOWN_SECONDS", "3"),
];

#[test]
fn a_thousand_silent_connections_never_stop_others_being_served() {
    more_files_here();
    let server = start(1024, &QUICK);
    // 1,100 silent connections from one address: more than the server's
    // open-files limit.
    let mut silent = Vec::new();
    for _ in 0..1100 {
        match connect(server.addr, None) {
            Ok(s) => silent.push(s),
            Err(e) => panic!("connection {} could not be made: {e}", silent.len()),
        }
    }
    // Another client is served while they hold on.
    assert_eq!(
        get(server.addr, Some([127, 0, 0, 2]), "/healthz"),
        Some(200),
        "another address was not served while one held a thousand connections"
    );
    // The silent ones are closed after the header timeout, and the address
    // is served again.
    let mut still_open = 0;
    for s in silent.iter_mut().take(50) {
        if !closed_within(s, Duration::from_secs(10)) {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "silent connections were still open after 10 s"
    );
    drop(silent);
    let began = Instant::now();
    while get(server.addr, None, "/healthz") != Some(200) {
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "the address was not served again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn half_sent_requests_and_idle_connections_are_closed_in_their_time() {
    let server = start(4096, &QUICK);
    // Half a request head.
    let mut head = connect(server.addr, None).unwrap();
    head.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert!(
        closed_within(&mut head, Duration::from_secs(8)),
        "a half-sent head held its connection"
    );
    // Half a body: the request ends (an answer, then the connection closes).
    let mut body = connect(server.addr, None).unwrap();
    body.write_all(b"POST /api/v1/blocks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"rea")
        .unwrap();
    assert!(
        closed_within(&mut body, Duration::from_secs(8)),
        "a half-sent body held its connection"
    );
    // A kept-alive connection left idle after a request.
    let mut idle = connect(server.addr, None).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 12];
    idle.read_exact(&mut answer).unwrap();
    assert_eq!(&answer[9..12], b"200");
    assert!(
        closed_within(&mut idle, Duration::from_secs(8)),
        "an idle kept-alive connection stayed open"
    );
}

#[test]
fn sigterm_exits_within_its_bound_while_slow_clients_hang_on() {
    let mut server = start(4096, &QUICK);
    let mut held = Vec::new();
    for i in 0..100 {
        let mut s = connect(server.addr, None).unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        } else {
            s.write_all(b"POST /api/v1/blocks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
                .unwrap();
        }
        held.push(s);
    }
    let began = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(
                status.success(),
                "the server did not exit cleanly: {status}"
            );
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "SIGTERM: still running after 15 s (the bound is 3 s)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(held);
}
