"""``tempo --help``: the main command first, with an example."""

from tempo_core.commands.cli import COMMANDS, build_parser


def test_help_lists_interpolate_first_with_an_example():
    text = build_parser().format_help()
    assert list(COMMANDS)[0] == "interpolate"
    rows = [line.split()[0] for line in text.splitlines() if line.startswith("    ") and line.split()[0] in COMMANDS]
    assert rows[0] == "interpolate" and len(rows) >= 2
    assert "slow motion / frame-rate conversion" in next(line for line in text.splitlines() if "interpolate" in line)
    assert "tempo interpolate clip.mp4 -o clip_60fps.mp4 --factor 2" in text
