//! The `echo` service against real SIP stacks: pjsua2 (PCMU, PCMA, G.722) and baresip (Opus, G.722) send
//! espeak speech, record what comes back, and tests/peers/echo_check.py checks it is the same speech
//! (envelope correlation ≥ 0.6) within the round-trip budget.

mod common;

use std::path::Path;
use std::process::Command;

use common::{espeak_wav, repo_path, require_tool, Server};

fn venv_python() -> std::path::PathBuf {
    let python = repo_path(".venv/bin/python");
    assert!(python.exists(), "{} missing: run scripts/setup.sh", python.display());
    python
}

fn run_checked(mut command: Command, what: &str, server: &Server) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    stdout
}

fn pjsua_echo(codec: &str) {
    require_tool("espeak-ng");
    require_tool("sox");
    let server = Server::start(&format!("pjsua-{}", codec.replace('/', "-")), "");
    let mut command = Command::new(venv_python());
    command
        .arg(repo_path("tests/peers/pjsua_echo.py"))
        .arg(format!("sip:echo@{}", server.sip))
        .arg(server.dir.join("pjsua"))
        .args(["--codec", codec, "--seconds", "6"]);
    let stdout = run_checked(command, &format!("pjsua2 echo with {codec}"), &server);
    println!("{stdout}");
    assert!(stdout.contains("OK"));
}

#[test]
fn pjsua2_echo_pcmu() {
    pjsua_echo("PCMU/8000");
}

#[test]
fn pjsua2_echo_pcma() {
    pjsua_echo("PCMA/8000");
}

#[test]
fn pjsua2_echo_g722() {
    pjsua_echo("G722/16000");
}

/// baresip's aufile source must match the codec's rate and channels.
fn baresip_echo(codec: &str, rate: u32, channels: u32) {
    require_tool("baresip");
    require_tool("espeak-ng");
    require_tool("sox");
    let server = Server::start(&format!("baresip-{}", codec.split('/').next().unwrap_or(codec)), "");
    let dir = server.dir.join("baresip");
    std::fs::create_dir_all(dir.join("rec")).unwrap();
    let (raw, speech) = (dir.join("raw.wav"), dir.join("speech.wav"));
    let text = "Testing the voice era echo service with baresip. Seven eight nine ten.";
    espeak_wav(text, &raw, &speech, (rate, channels), (0.3, 1.5));
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:0\naudio_player aufile,{out}\naudio_source aufile,{src}\n\
         audio_alert aufile,{out}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule g722.so\n\
         module opus.so\nmodule aufile.so\nmodule sndfile.so\nmodule_app account.so\nmodule_app menu.so\n\
         snd_path {rec}\n",
        out = dir.join("player.wav").display(),
        src = speech.display(),
        rec = dir.join("rec").display()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("accounts"), format!("<sip:bs@127.0.0.1>;regint=0;audio_codecs={codec}\n")).unwrap();
    let out = Command::new("timeout")
        .args(["40", "baresip", "-f"])
        .arg(&dir)
        .args(["-e", &format!("/dial sip:echo@{}", server.sip), "-t", "9"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Call established"), "baresip did not connect:\n{log}\nserver log:\n{}", server.log());
    let find = |suffix: &str| {
        std::fs::read_dir(dir.join("rec"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} dump in {}", dir.display()))
    };
    let (sent, received) = (find("-enc.wav"), find("-dec.wav"));
    let mut command = Command::new("python3");
    command.arg(repo_path("tests/peers/echo_check.py")).arg(&sent).arg(&received).arg(codec).arg("300");
    let stdout = run_checked(command, &format!("baresip echo with {codec}"), &server);
    println!("{stdout}");
    assert!(server.log().contains(&format!("codec={}", if codec.starts_with("opus") { "Opus" } else { "G722" })));
    let _ = Path::new(&sent);
}

#[test]
fn baresip_echo_opus() {
    baresip_echo("opus/48000/2", 48000, 2);
}

#[test]
fn baresip_echo_g722() {
    baresip_echo("G722/16000/1", 16000, 1);
}
