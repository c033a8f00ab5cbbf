//! linux.netDevices: each test runs carrack in a private network namespace of its own
//! (`unshare -n`) holding veth pairs it made, so the host's interfaces are never touched;
//! when the test ends, the namespace and its devices go with it.

mod common;
use common::*;
use serde_json::json;
use std::process::Command;

/// Run `script` in a new network namespace with $C (carrack with this bundle's --root),
/// $B (the bundle) and $ID set. None (after printing why) when veth pairs cannot be made.
fn in_private_netns(b: &Bundle, id: &str, script: &str) -> Option<(i32, String)> {
    let probe = Command::new("unshare")
        .args([
            "-n", "ip", "link", "add", "ck0", "type", "veth", "peer", "name", "ck1",
        ])
        .output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        skip(
            "no-veth",
            "cannot make a veth pair in a new network namespace (no veth driver or no ip)",
        );
        return None;
    }
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .env("C", format!("{BIN} --root {}", b.root.display()))
        .env("B", b.bundle())
        .env("ID", id)
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    Some((out.status.code().unwrap_or(-1), all))
}

fn bundle(devices: serde_json::Value, script: &str) -> Bundle {
    let mut b = Bundle::new(&["sh", "-c", script]);
    std::os::unix::fs::symlink("busybox", b.rootfs().join("bin/ip")).unwrap();
    b.config["linux"]["netDevices"] = devices;
    b.write_config();
    b
}

#[test]
fn moved_renamed_up_with_its_global_addresses() {
    if can_run().is_none() {
        return;
    }
    let b = bundle(
        json!({"cka": {"name": "eth0"}, "ckc": {}}),
        "cat /sys/class/net/eth0/flags /sys/class/net/ckc/flags; ip -o addr show",
    );
    let id = b.id("netdev");
    let Some((rc, out)) = in_private_netns(
        &b,
        &id,
        "set -e
         ip link add cka type veth peer name ckb
         ip link add ckc type veth peer name ckd
         ip addr add 192.0.2.7/24 dev cka
         ip addr add 2001:db8::7/64 dev cka
         ip addr add 10.9.9.9/8 scope link dev cka
         ip link set cka up
         $C run --bundle $B $ID
         # Namespace teardown is asynchronous: wait up to 5 s for the veths to go.
         for i in $(seq 50); do ip -o link show | grep -q ': ck' || break; sleep 0.1; done
         echo host: $(ip -o link show | grep -c ': ck')",
    ) else {
        return;
    };
    assert_eq!(rc, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    // IFF_UP is bit 0 of both devices' flags.
    for (dev, flags) in ["eth0", "ckc"].iter().zip(&lines[..2]) {
        let f = u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap();
        assert_eq!(f & 1, 1, "{dev} is not up: {out}");
    }
    assert!(
        out.contains("eth0    inet 192.0.2.7/24"),
        "IPv4 address not kept: {out}"
    );
    assert!(
        out.contains("eth0    inet6 2001:db8::7/64"),
        "IPv6 address not kept: {out}"
    );
    assert!(
        !out.contains("10.9.9.9"),
        "a link-scope address was moved: {out}"
    );
    // The container's namespace is gone, and both veth pairs with it.
    assert!(
        out.contains("host: 0"),
        "devices left in the runtime's namespace: {out}"
    );
}

#[test]
fn template_name_into_a_joined_namespace() {
    if can_run().is_none() {
        return;
    }
    let mut b = bundle(
        json!({"cka": {"name": "net%d"}}),
        "ip -o link show | grep -o 'net[0-9]*@'",
    );
    let id = b.id("netdev-join");
    // Joined namespace: one held by a sleep the script starts and ends; its path replaces
    // the placeholder once the sleep runs.
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!("/tmp/carrack-netdev-ns-placeholder");
        }
    }
    b.write_config();
    let Some((rc, out)) = in_private_netns(
        &b,
        &id,
        "ip link add cka type veth peer name ckb
         unshare -n sleep 60 & holder=$!
         sleep 0.2
         sed -i \"s|/tmp/carrack-netdev-ns-placeholder|/proc/$holder/ns/net|\" $B/config.json
         $C run --bundle $B $ID; rc=$?
         echo holder: $(nsenter -t $holder -n ip -o link show | grep -o 'net[0-9]*@')
         kill $holder; exit $rc",
    ) else {
        return;
    };
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("net0@"), "no net0 in the container: {out}");
    assert!(
        out.contains("holder: net0@"),
        "the joined namespace does not hold net0: {out}"
    );
}

#[test]
fn refused_with_the_field_named_and_nothing_left() {
    if can_run().is_none() {
        return;
    }
    for (devices, want) in [
        (json!({"ck-missing": {}}), "no such interface"),
        (json!({"cka": {"name": "lo"}}), "already exists"),
    ] {
        let b = bundle(devices.clone(), "true");
        let id = b.id("netdev-bad");
        let Some((rc, out)) = in_private_netns(
            &b,
            &id,
            "ip link add cka type veth peer name ckb
             $C run --bundle $B $ID; rc=$?
             ip -o link show cka | grep -q cka || echo cka-gone
             exit $rc",
        ) else {
            return;
        };
        assert_eq!(rc, 1, "{devices}: {out}");
        assert!(
            out.contains("linux.netDevices") && out.contains(want),
            "{devices}: {out}"
        );
        assert!(
            !out.contains("cka-gone"),
            "{devices}: the host device was moved: {out}"
        );
        assert_nothing_left(&b, &id, &id, &devices.to_string());
    }
}
