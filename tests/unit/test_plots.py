"""The report figures: expected files, real non-blank PNGs, byte-identical on a second run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from blurb_lab.report.figures import config_slug, slugify, wrap_label
from blurb_lab.report.plots import write_plots

KEYS = {
    ("biosses", "full"): "a1b2c3d4e5f60718",
    ("biosses", "reinit_top"): "0f1e2d3c4b5a6978",
    ("biosses", "lora"): "77aa88bb99cc00dd",
    ("bc5chem", "full"): "1234abcd5678ef90",
    ("bc5chem", "lora"): "deadbeefcafef00d",
}
METRICS = {"biosses": "pearson", "bc5chem": "entity_f1"}


def fake_results() -> list[dict[str, Any]]:
    """2 tasks, 3 + 2 configurations, 3 seeds each; one failed run, one null test score, one NaN on a dev curve."""
    results = []
    for (task, strategy), key in KEYS.items():
        base = {"full": 0.80, "reinit_top": 0.84, "lora": 0.70}[strategy]
        for seed in (1, 2, 3):
            curve = [base - 0.2 + 0.1 * e + 0.01 * seed for e in range(3)]
            results.append(
                {
                    "status": "ok",
                    "task": task,
                    "model": "minilm",
                    "strategy": strategy,
                    "seed": seed,
                    "metric": METRICS[task],
                    "dev_score": max(curve),
                    "test_score": base + 0.02 * seed - 0.04,
                    "dev_curve": curve,
                    "config_key": key,
                    "config_label": f"minilm/{task}/{strategy} trainer.max_epochs=3 optim.lr=2e-5 optim.warmup=0.1",
                }
            )
    failed = next(r for r in results if r["config_key"] == KEYS[("biosses", "lora")] and r["seed"] == 2)
    failed.update(status="diverged", test_score=0.1, dev_curve=[0.3, 0.1])
    null = next(r for r in results if r["config_key"] == KEYS[("bc5chem", "full")] and r["seed"] == 3)
    null.update(status="failed", test_score=None, dev_score=None, dev_curve=[])
    nan = next(r for r in results if r["config_key"] == KEYS[("biosses", "full")] and r["seed"] == 1)
    nan["dev_curve"] = [0.5, math.nan, 0.7]
    return results


def expected_names(results: list[dict[str, Any]]) -> set[str]:
    curves = {f"curves_{config_slug(r)}.png" for r in results}
    return {"scores_biosses.png", "scores_bc5chem.png", "evp_biosses.png", "evp_bc5chem.png"} | curves


def test_write_plots_files_are_real_pngs_and_deterministic(tmp_path: Path) -> None:
    results = fake_results()
    first = write_plots(results, tmp_path / "a")
    names = expected_names(results)
    assert len(names) == 4 + len(KEYS)
    assert {p.name for p in first} == names
    assert {p.name for p in (tmp_path / "a").iterdir()} == names  # nothing else written
    for path in first:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 5_000
        image = imread(path)
        assert image.shape[0] > 200 and image.shape[1] > 300
        assert float(np.std(image[..., :3])) > 0.01, f"{path.name} looks blank"

    second = write_plots(list(reversed(fake_results())), tmp_path / "b")  # input order must not matter either
    assert [p.name for p in second] == [p.name for p in first]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between runs"


def drawn_points(monkeypatch: pytest.MonkeyPatch, results: list[dict[str, Any]], out: Path) -> dict[str, list]:
    """Per score-plot and dev-curve file, the scatter points of its figure as (x, y, hollow, edge colour),
    read from the figure's matplotlib objects just before it is saved."""
    from matplotlib.colors import to_hex

    from blurb_lab.report import plots

    seen: dict[str, list] = {}
    save = plots.save_figure

    def spy(fig: Any, path: Path) -> Path:
        points = []
        for ax in fig.axes:
            for collection in ax.collections:
                faces, edges = collection.get_facecolors(), collection.get_edgecolors()
                for i, (x, y) in enumerate(collection.get_offsets()):
                    hollow = len(faces) == 0 or faces[i % len(faces)][3] == 0
                    edge = to_hex(edges[i % len(edges)]) if len(edges) else None
                    points.append((float(x), float(y), hollow, edge))
        seen[path.name] = points
        return save(fig, path)

    monkeypatch.setattr(plots, "save_figure", spy)
    plots.write_plots(results, out)
    return seen


def test_score_plot_draws_every_scored_run_and_failed_ones_hollow_red(tmp_path: Path, monkeypatch) -> None:
    """Each finite test score is one point at its value, in its configuration's column (best mean first:
    reinit_top, full, lora); the diverged run is a hollow red ring; bc5chem's run without a score is absent."""
    from blurb_lab.report.plots import FAILED_COLOR

    results = fake_results()
    points = drawn_points(monkeypatch, results, tmp_path)
    for task, columns in (("biosses", ["reinit_top", "full", "lora"]), ("bc5chem", ["full", "lora"])):
        drawn = points[f"scores_{task}.png"]
        assert all(abs(x - round(x)) <= 0.15 for x, _, _, _ in drawn)  # jitter keeps a point in its column
        for column, strategy in enumerate(columns):
            scored = [r for r in results if r["test_score"] is not None]
            runs = [r for r in scored if (r["task"], r["strategy"]) == (task, strategy)]
            shown = sorted((y, hollow, edge == FAILED_COLOR) for x, y, hollow, edge in drawn if round(x) == column)
            expected = sorted((r["test_score"], r["status"] != "ok", r["status"] != "ok") for r in runs)
            assert [s[1:] for s in shown] == [e[1:] for e in expected], (task, strategy)
            assert [s[0] for s in shown] == pytest.approx([e[0] for e in expected]), (task, strategy)
    (failed,) = [p for p in points["scores_biosses.png"] if p[2]]
    assert failed[1] == pytest.approx(0.1) and failed[3] == FAILED_COLOR
    assert not [p for p in points["scores_bc5chem.png"] if p[2]]  # its failed run has no score to draw


def test_empty_results_write_nothing(tmp_path: Path) -> None:
    assert write_plots([], tmp_path) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("minilm/biosses/full a=1", "minilm_biosses_full_a_1"), ("../..", "x"), ("ok-name.v2", "ok-name.v2")],
)
def test_slugify(text: str, expected: str) -> None:
    assert slugify(text) == expected


def test_config_slug_unique_and_safe() -> None:
    a = {"config_label": "m/t/s lr=1", "config_key": "abcdef0123456789"}
    b = {"config_label": "m/t/s lr=1", "config_key": "not a hex key but still unique"}
    assert config_slug(a) == "m_t_s_lr_1_abcdef01"
    assert config_slug(b) != config_slug(a) and "/" not in config_slug(b) and " " not in config_slug(b)


def test_wrap_label_keeps_text_and_width() -> None:
    label = "minilm/biosses/reinit_top trainer.max_epochs=3 optim.learning_rate_schedule_is_very_long=yes"
    wrapped = wrap_label(label, 22)
    assert all(len(line) <= 22 for line in wrapped.splitlines())
    assert wrapped.replace("\n", "").replace(" ", "") == label.replace(" ", "")


def _color_mask(image: np.ndarray, hex_color: str, tol: float = 0.04) -> np.ndarray:
    rgb = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.all(np.abs(image[..., :3] - rgb) < tol, axis=-1)


def test_evp_plot_has_a_curve_and_a_band_per_configuration(tmp_path: Path) -> None:
    """evp_biosses.png: a wide two-panel PNG in which every configuration's colour draws a line (unbiased
    estimator) and a translucent band (Dodge's ±1 sd); the plotted area is far from blank."""
    from blurb_lab.report.figures import PALETTE

    paths = {p.name: p for p in write_plots(fake_results(), tmp_path)}
    data = paths["evp_biosses.png"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(paths["evp_biosses.png"])
    assert image.shape[:2] == (500, 1100)
    for color in PALETTE[:3]:  # the three biosses configurations
        assert _color_mask(image, color).sum() > 300, f"no curve drawn in {color}"
        rgb = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        tint = 1 - 0.12 * (1 - rgb)  # the band: alpha 0.12 over white
        band = np.all(np.abs(image[..., :3] - tint) < 0.02, axis=-1)
        assert band.sum() > 500, f"no ±1 sd band in {color}"
    left = image[60:400, 60:540, :3]  # the dev panel's plotting area
    assert (np.abs(left - 1.0).max(axis=-1) > 0.1).mean() > 0.02  # >2% of it is ink, not background


def _rows_with_line(image: np.ndarray, color: str, tol: float, share: float) -> np.ndarray:
    """Image rows in which at least `share` of the pixels have the colour (within `tol`, for antialiasing):
    a horizontal line, dashed or dotted, across the plot."""
    mask = _color_mask(image, color, tol)
    return np.flatnonzero(mask.mean(axis=1) > share)


def test_score_plot_draws_the_reference_scores_as_horizontal_lines(tmp_path: Path) -> None:
    from blurb_lab.report.plots import TRIVIAL_COLOR, ZERO_SHOT_COLORS

    gray = "#" + f"{round(float(TRIVIAL_COLOR) * 255):02x}" * 3
    dashed = lambda img: _rows_with_line(img, gray, tol=0.15, share=0.3)
    dotted = lambda img: _rows_with_line(img, ZERO_SHOT_COLORS[0], tol=0.08, share=0.15)
    plain = imread(write_plots(fake_results(), tmp_path / "plain")[1])  # scores_biosses.png
    assert len(dashed(plain)) == 0 and len(dotted(plain)) == 0

    results = fake_results()
    for r in results:
        r["trivial_test_score"] = 0.0
        if r["task"] == "biosses":
            r["zero_shot_test_score"] = 0.75
    paths = {p.name: p for p in write_plots(results, tmp_path / "refs")}
    image = imread(paths["scores_biosses.png"])
    trivial, zero_shot = dashed(image), dotted(image)
    assert len(trivial) and len(zero_shot), "reference lines missing"
    assert trivial.min() > zero_shot.max()  # 0.0 is drawn below 0.75 (image rows grow downwards)
    # bc5chem has a trivial reference but no zero-shot one (null for tagging)
    bc5 = imread(paths["scores_bc5chem.png"])
    assert len(dashed(bc5)) and not len(dotted(bc5))
