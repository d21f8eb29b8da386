"""Tools/check-shape against fixture trees of Swift snippets (pytest; no hub needed)."""

import importlib.machinery
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
while not os.path.exists(os.path.join(ROOT, "Package.swift")):
    ROOT = os.path.dirname(ROOT)
SCRIPT = os.path.join(ROOT, "Tools", "check-shape")

loader = importlib.machinery.SourceFileLoader("check_shape", SCRIPT)
spec = importlib.util.spec_from_loader("check_shape", loader)
shape = importlib.util.module_from_spec(spec)
loader.exec_module(shape)


def body(lines, text="x += 1"):
    return "\n".join(f"        {text}" for _ in range(lines))


def measured(source):
    return {name: (lines, reason) for name, _, lines, reason in shape.functions(source)}


def test_body_lines_are_counted_between_the_braces():
    source = f"""
struct A {{
    func short() {{
{body(80)}
    }}
    init(x: Int) {{
{body(81)}
    }}
}}
"""
    found = measured(source)
    assert found["short"] == (80, None)
    assert found["init"] == (81, None)


def test_braces_in_strings_and_comments_do_not_count():
    source = f"""
func tricky() {{
    let a = "}} {{ \\" }}"
    let b = #"}} "quoted" \\(x) }}"#
    let c = \"\"\"
        }} }} {{
        \"\"\"
    let d = "\\(values.map {{ "\\($0) }}" }}) }}"
    // }} in a comment
    /* }} /* nested }} */ still a comment }} */
{body(3)}
}}
func after() {{
{body(2)}
}}
"""
    found = measured(source)
    assert found["tricky"][0] == 11  # a, b, c (3 lines), d, two comments, 3
    assert found["after"][0] == 2


def test_handler_closures_are_measured_and_control_blocks_are_not():
    source = f"""
func registerThings(router: Router) {{
    router.register("a.b", summary: "x") {{ call in
{body(90)}
    }}
    connection.onRead = {{ bytes in
{body(85)}
    }}
    if ready {{
{body(100)}
    }}
}}
"""
    found = measured(source)
    assert found["register handler"][0] == 90
    assert found["onRead = {...}"][0] == 85
    assert found["registerThings"][0] > 100
    assert len(found) == 3


def test_protocol_requirements_do_not_take_the_next_brace():
    source = f"""
protocol P {{
    func a()
    init(x: Int)
}}
protocol Q {{
    func c()
}}
let made = items.map(Thing.init(value:))
let other = Thing.init(value: 1)
let copies = [1].map {{ Thing(value: $0) }}
struct S {{
    var v: Int {{ 1 }}
    func b() {{
{body(5)}
    }}
}}
"""
    found = measured(source)
    assert found == {"b": (5, None)}


def test_exemption_comment_above_or_on_the_line():
    source = f"""
/// Decodes one message.
// shape: switch table
func decode() {{
{body(120)}
}}
func other() {{  // shape: generated
{body(120)}
}}

// shape: not adjacent
let x = 1
func notExempt() {{
{body(120)}
}}
"""
    found = measured(source)
    assert found["decode"] == (120, "switch table")
    assert found["other"] == (120, "generated")
    assert found["notExempt"] == (120, None)


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def run(root, *args):
    return subprocess.run([sys.executable, SCRIPT, "--root", str(root), *args], capture_output=True, text=True)


def test_report_mode_exits_0_and_strict_fails_on_each_kind_of_violation(tmp_path):
    write(tmp_path, "Sources/Wire/A.swift", f"func fine() {{\n{body(10)}\n}}\n")
    clean = run(tmp_path, "--strict")
    assert clean.returncode == 0, clean.stdout
    assert "0 violation(s)" in clean.stdout

    write(tmp_path, "Sources/Wire/B.swift", f"func long() {{\n{body(81)}\n}}\n")
    result = run(tmp_path)
    assert result.returncode == 0
    assert "Sources/Wire/B.swift:1: long: 81 lines" in result.stdout
    assert run(tmp_path, "--strict").returncode == 1
    os.remove(tmp_path / "Sources/Wire/B.swift")

    write(tmp_path, "Sources/HubServer/Big.swift", "let x = 1\n" * 4001)
    result = run(tmp_path, "--strict")
    assert result.returncode == 1
    assert "Sources/HubServer: 4001 lines in 1 files (limit 4000): over" in result.stdout
    write(tmp_path, "Sources/HubServer/Big.swift", "let x = 1\n" * 4000)
    assert run(tmp_path, "--strict").returncode == 0


def test_device_modules_must_share_their_file_suffixes(tmp_path):
    for family in ("Ethernet", "Modem"):
        for suffix in ("Device", "Methods", "Waits"):
            write(tmp_path, f"Sources/{family}Server/{family}{suffix}.swift", "")
    write(tmp_path, "Sources/HubServer/Hub.swift", "")
    result = run(tmp_path, "--strict")
    assert result.returncode == 0, result.stdout
    assert "device server modules: EthernetServer, ModemServer; file suffixes: Device, Methods, Waits" \
        in result.stdout
    write(tmp_path, "Sources/FramebufferServer/FramebufferDevice.swift", "")
    write(tmp_path, "Sources/FramebufferServer/FramebufferMethods.swift", "")
    result = run(tmp_path, "--strict")
    assert result.returncode == 1
    assert "Sources/FramebufferServer: missing Waits" in result.stdout
    assert "HubServer:" not in result.stdout.split("device server modules")[1]


def test_unbalanced_source_is_reported_not_guessed():
    assert ("<unbalanced: the scanner lost track in this file>", 0, None, None) in shape.functions("func f() {\n")


def test_the_repository_scans_without_error():
    result = run(ROOT)
    assert result.returncode == 0, result.stderr
    assert "check-shape:" in result.stdout
    assert "warning" not in result.stdout
