"""The app and a clip whose header lies (issue 22): one sentence, no gigabytes, the app stays usable."""

from __future__ import annotations

from hostile_files import mkv_claiming_size, y4m_claiming_size
from tempo_app_helpers import open_clip


def test_huge_frame_header_is_one_dialog_and_the_app_stays_usable(qtbot, window, clip, tmp_path, dialogs):
    """The 50 KB file claiming 16000 x 16000 took the app past 10 GB in 14 s."""
    huge = mkv_claiming_size(tmp_path / "huge.mkv", 16000, 16000)
    y4m = y4m_claiming_size(tmp_path / "huge.y4m", 30000, 30000)
    for path, words in [(huge, "16000 x 16000 pixels"), (y4m, "16384 pixels on a side")]:
        count = len(dialogs)
        window.controller.open_clip(str(path))
        qtbot.waitUntil(lambda count=count: len(dialogs) > count, timeout=10000)
        assert words in dialogs[-1] and "\n" not in dialogs[-1] and path.name in dialogs[-1]
        assert not window.controller.session.has_clip
    open_clip(qtbot, window, clip)
    assert window.controller.session.has_clip
