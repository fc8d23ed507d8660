"""BLURB metrics against independent references (seqeval, scikit-learn, scipy) on seeded random cases."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score
from torchmetrics import Metric, PearsonCorrCoef

from blurb_lab.errors import ConfigError
from blurb_lab.metrics import (
    METRICS,
    Accuracy,
    BinaryF1,
    EntityF1,
    MicroF1,
    MultiLabelMicroF1,
    TokenMacroF1,
    build_metric,
    extract_entities,
)

N_CASES = 200
PICO = ["I-PAR", "I-INT", "I-OUT", "O"]
HOC_LABELS = [f"hallmark {i}" for i in range(10)]


@pytest.fixture(scope="module")
def seqeval():
    """seqeval's metrics and its IOB2 scheme; only the tests that compare with it skip without it."""
    metrics = pytest.importorskip("seqeval.metrics")
    from seqeval.scheme import IOB2

    return metrics, IOB2


def score(metric: Metric, *batches: tuple) -> float:
    for preds, target in batches:
        metric.update(preds, target)
    return float(metric.compute())


# --- tag sequences ---------------------------------------------------------------------------------
def random_tags(rng: random.Random, length: int, types: list[str] | None) -> list[str]:
    """IOB-ish tags with many malformed I's (after O, after another type) to exercise both modes."""
    tags = []
    for _ in range(length):
        prefix = rng.choices(["O", "B", "I"], weights=[5, 2, 3])[0]
        if prefix == "O" or types is None:
            tags.append(prefix)
        else:
            tags.append(f"{prefix}-{rng.choice(types)}")
    return tags


def perturb(rng: random.Random, tags: list[str], alphabet: list[str]) -> list[str]:
    """A prediction close to the gold (so there are hits) with some tags replaced."""
    return [rng.choice(alphabet) if rng.random() < 0.25 else tag for tag in tags]


def random_corpus(rng: random.Random, types: list[str] | None) -> tuple[list[list[str]], list[list[str]]]:
    alphabet = ["O", "B", "I"] if types is None else ["O"] + [f"{p}-{t}" for p in "BI" for t in types]
    gold = [random_tags(rng, rng.randint(1, 12), types) for _ in range(rng.randint(1, 8))]
    pred = [perturb(rng, sentence, alphabet) for sentence in gold]
    return pred, gold


def seqeval_f1(seqeval, pred: list[list[str]], gold: list[list[str]], strict: bool) -> float:
    metrics, iob2 = seqeval
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning when nothing is predicted or gold
        if strict:
            return metrics.f1_score(gold, pred, mode="strict", scheme=iob2)
        return metrics.f1_score(gold, pred)


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("types", [None, ["Gene", "Chem"]], ids=["bare", "typed"])
def test_entity_f1_equals_seqeval(seqeval, strict: bool, types: list[str] | None) -> None:
    rng = random.Random(1234 + strict + 2 * (types is not None))
    for _ in range(N_CASES):
        pred, gold = random_corpus(rng, types)
        expected = seqeval_f1(seqeval, pred, gold, strict)
        assert score(EntityF1(strict=strict), (pred, gold)) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("strict", [False, True])
def test_entity_f1_edge_cases_equal_seqeval(seqeval, strict: bool) -> None:
    cases = [
        ([["O", "O"]], [["B", "I"]]),  # nothing predicted
        ([["B", "O"]], [["O", "O"]]),  # no gold entity
        ([["O"]], [["O"]]),  # nothing anywhere: seqeval says 0.0
        ([["I"]], [["I"]]),  # length 1, an I without B
        ([["B"]], [["B"]]),
        ([["O", "I", "I"]], [["B", "I", "I"]]),  # I after O
        ([["B-Gene", "I-Chem"]], [["B-Gene", "I-Gene"]]),  # I after another type
        ([["I-Gene", "I-Gene", "O", "I-Chem"]], [["I-Gene", "I-Gene", "O", "I-Chem"]]),
        ([[], ["B"]], [[], ["B"]]),  # an empty sentence
    ]
    for pred, gold in cases:
        expected = seqeval_f1(seqeval, pred, gold, strict)
        assert score(EntityF1(strict=strict), (pred, gold)) == pytest.approx(expected, abs=1e-6), (pred, gold)


def test_i_without_b_starts_an_entity_only_in_default_mode() -> None:
    tags = ["O", "I", "I", "O", "B", "I", "I", "B-Gene", "I-Chem"]
    assert extract_entities(tags) == {("_", 1, 2), ("_", 4, 6), ("Gene", 7, 7), ("Chem", 8, 8)}
    assert extract_entities(tags, strict=True) == {("_", 4, 6), ("Gene", 7, 7)}
    assert extract_entities(["I"]) == {("_", 0, 0)}
    assert extract_entities(["I"], strict=True) == set()
    # gold "B I" against a prediction "I I": the same span by conlleval, none by strict IOB2
    assert score(EntityF1(), ([["I", "I"]], [["B", "I"]])) == 1.0
    assert score(EntityF1(strict=True), ([["I", "I"]], [["B", "I"]])) == 0.0


def test_entity_f1_counts_and_edges_without_seqeval() -> None:
    metric = EntityF1()
    metric.update([["B", "I", "O", "B"]], [["B", "I", "O", "O"]])
    assert (int(metric.tp), int(metric.n_pred), int(metric.n_gold)) == (1, 2, 1)
    assert float(metric.compute()) == pytest.approx(2 / 3)
    assert score(EntityF1(), ([["O", "O"]], [["B", "O"]])) == 0.0  # all-O predictions
    assert score(EntityF1(), ([["O"]], [["O"]])) == 0.0  # nothing predicted, nothing gold


def test_entity_f1_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="sentence 1"):
        EntityF1().update([["O"], ["O", "B"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentences"):
        EntityF1().update([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="not IOB2"):
        EntityF1().update([["X"]], [["O"]])
    with pytest.raises(ValueError, match="not IOB2"):
        EntityF1().update([["Bogus"]], [["O"]])


# --- PICO ------------------------------------------------------------------------------------------
def test_token_macro_f1_equals_sklearn() -> None:
    rng = random.Random(7)
    for _ in range(N_CASES):
        weights = [rng.random() for _ in PICO]  # some cases lack a class entirely
        gold = [rng.choices(PICO, weights=weights, k=rng.randint(1, 10)) for _ in range(rng.randint(1, 6))]
        pred = [perturb(rng, sentence, PICO) for sentence in gold]
        flat_gold = [t for s in gold for t in s]
        flat_pred = [t for s in pred for t in s]
        expected = f1_score(flat_gold, flat_pred, labels=PICO[:3], average="macro", zero_division=0)
        assert score(TokenMacroF1(PICO), (pred, gold)) == pytest.approx(expected, abs=1e-6)


def test_token_macro_f1_edges() -> None:
    assert score(TokenMacroF1(PICO), ([["O", "O"]], [["O", "O"]])) == 0.0  # no gold positives at all
    assert score(TokenMacroF1(PICO), ([["O"]], [["I-PAR"]])) == 0.0  # all-O predictions
    # one perfect class of three: the two absent classes still enter the average with 0
    assert score(TokenMacroF1(PICO), ([["I-PAR"]], [["I-PAR"]])) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="sentence 0"):
        TokenMacroF1(PICO).update([["O"]], [["O", "O"]])


# --- class ids -------------------------------------------------------------------------------------
def test_micro_f1_equals_sklearn() -> None:
    gen = torch.Generator().manual_seed(11)
    for case in range(N_CASES):
        k = int(torch.randint(2, 7, (1,), generator=gen))
        negative = None if case % 10 == 0 else int(torch.randint(0, k, (1,), generator=gen))
        n = int(torch.randint(1, 40, (1,), generator=gen))
        gold = torch.randint(0, k, (n,), generator=gen)
        pred = torch.where(torch.rand(n, generator=gen) < 0.5, gold, torch.randint(0, k, (n,), generator=gen))
        labels = [c for c in range(k) if c != negative]
        expected = f1_score(gold.numpy(), pred.numpy(), labels=labels, average="micro", zero_division=0)
        assert score(MicroF1(k, negative), (pred, gold)) == pytest.approx(expected, abs=1e-6)


def test_micro_f1_negatives_never_hit() -> None:
    negatives = torch.zeros(5, dtype=torch.long)
    assert score(MicroF1(3, 0), (negatives, negatives)) == 0.0  # all-negative batch
    assert score(MicroF1(3, 0), (torch.tensor([1, 2, 0]), negatives[:3])) == 0.0  # no gold positives
    assert score(MicroF1(3, 0), (negatives[:2], torch.tensor([1, 2]))) == 0.0  # all-negative predictions
    # one hit, one false positive on a negative, one positive missed as negative
    assert score(MicroF1(3, 0), (torch.tensor([1, 2, 0]), torch.tensor([1, 0, 2]))) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="class id"):
        MicroF1(3, 0).update(torch.tensor([3]), torch.tensor([0]))
    with pytest.raises(ValueError, match="predictions"):
        MicroF1(3, 0).update(torch.tensor([1, 2]), torch.tensor([0]))


def test_binary_f1_equals_sklearn() -> None:
    gen = torch.Generator().manual_seed(12)
    for case in range(N_CASES):
        positive = case % 2
        n = int(torch.randint(1, 30, (1,), generator=gen))
        p_gold = float(torch.rand(1, generator=gen))  # includes near-all-negative batches
        gold = (torch.rand(n, generator=gen) < p_gold).long()
        pred = (torch.rand(n, generator=gen) < float(torch.rand(1, generator=gen))).long()
        expected = f1_score(gold.numpy(), pred.numpy(), pos_label=positive, zero_division=0)
        assert score(BinaryF1(positive), (pred, gold)) == pytest.approx(expected, abs=1e-6)
    zeros = torch.zeros(4, dtype=torch.long)
    assert score(BinaryF1(1), (zeros, zeros)) == 0.0


def test_multilabel_micro_f1_equals_sklearn() -> None:
    gen = torch.Generator().manual_seed(13)
    for _ in range(N_CASES):
        n = int(torch.randint(1, 20, (1,), generator=gen))
        gold = (torch.rand(n, 10, generator=gen) < 0.15).long()  # many documents with no label
        pred = torch.where(torch.rand(n, 10, generator=gen) < 0.8, gold, 1 - gold)
        expected = f1_score(gold.numpy(), pred.numpy(), average="micro", zero_division=0)
        assert score(MultiLabelMicroF1(10), (pred, gold)) == pytest.approx(expected, abs=1e-6)
    zeros = torch.zeros(3, 10, dtype=torch.long)
    assert score(MultiLabelMicroF1(10), (zeros, zeros)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        MultiLabelMicroF1(10).update(torch.zeros(3, 9), torch.zeros(3, 9))
    with pytest.raises(ValueError, match="0 or 1"):
        MultiLabelMicroF1(2).update(torch.tensor([[0.7, 0.1]]), torch.tensor([[1, 0]]))


def test_accuracy_equals_sklearn() -> None:
    gen = torch.Generator().manual_seed(14)
    for _ in range(N_CASES):
        n = int(torch.randint(1, 30, (1,), generator=gen))
        gold, pred = torch.randint(0, 3, (n,), generator=gen), torch.randint(0, 3, (n,), generator=gen)
        expected = accuracy_score(gold.numpy(), pred.numpy())
        assert score(Accuracy(), (pred, gold)) == pytest.approx(expected, abs=1e-6)


def test_pearson_equals_scipy() -> None:
    gen = torch.Generator().manual_seed(15)
    for _ in range(N_CASES):
        n = int(torch.randint(3, 40, (1,), generator=gen))
        gold = torch.rand(n, generator=gen) * 4
        pred = gold + torch.randn(n, generator=gen) * float(torch.rand(1, generator=gen) * 3)
        expected = pearsonr(gold.double().numpy(), pred.double().numpy())[0]
        assert score(build_metric("pearson"), (pred, gold)) == pytest.approx(expected, abs=1e-4)


# --- accumulation, reset and distributed merging ---------------------------------------------------
def batches_for(name: str, rng: random.Random) -> list[tuple]:
    """Four batches of inputs for one metric kind, in the form its update() takes."""
    out: list[tuple] = []
    gen = torch.Generator().manual_seed(rng.randint(0, 10**6))
    for _ in range(4):
        n = rng.randint(1, 12)
        if name in ("entity", "entity_strict"):
            out.append(random_corpus(rng, None))
        elif name == "pico":
            gold = [rng.choices(PICO, k=rng.randint(1, 8)) for _ in range(3)]
            out.append(([perturb(rng, s, PICO) for s in gold], gold))
        elif name in ("micro", "binary", "accuracy"):
            k = 4 if name == "micro" else 2
            out.append((torch.randint(0, k, (n,), generator=gen), torch.randint(0, k, (n,), generator=gen)))
        elif name == "multilabel":
            out.append(((torch.rand(n, 10, generator=gen) < 0.3).long(), (torch.rand(n, 10) < 0.3).long()))
        else:
            gold = torch.rand(n + 2, generator=gen)
            out.append((gold + torch.rand(n + 2, generator=gen), gold))
    return out


FACTORIES = {
    "entity": lambda: EntityF1(),
    "entity_strict": lambda: EntityF1(strict=True),
    "pico": lambda: TokenMacroF1(PICO),
    "micro": lambda: MicroF1(4, 0),
    "binary": lambda: BinaryF1(1),
    "multilabel": lambda: MultiLabelMicroF1(10),
    "accuracy": lambda: Accuracy(),
    "pearson": lambda: PearsonCorrCoef(),
}


def concat(batches: list[tuple]) -> tuple:
    preds, target = zip(*batches, strict=True)
    if isinstance(preds[0], torch.Tensor):
        return torch.cat(preds), torch.cat(target)
    return [s for b in preds for s in b], [s for b in target for s in b]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_several_updates_equal_one_big_update(name: str) -> None:
    batches = batches_for(name, random.Random(sorted(FACTORIES).index(name)))
    many = score(FACTORIES[name](), *batches)
    once = score(FACTORIES[name](), concat(batches))
    assert many == pytest.approx(once, abs=1e-5)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_merged_shards_equal_the_whole(name: str) -> None:
    """What a DDP sync does: each rank counts its shard, the states are reduced, then computed."""
    batches = batches_for(name, random.Random(100 + sorted(FACTORIES).index(name)))
    rank0, rank1 = FACTORIES[name](), FACTORIES[name]()
    for batch in batches[:2]:
        rank0.update(*batch)
    for batch in batches[2:]:
        rank1.update(*batch)
    if isinstance(rank0, PearsonCorrCoef):  # not sum-reduced: torchmetrics stacks its states and pools them
        for state in rank0._defaults:
            setattr(rank0, state, torch.stack([getattr(rank0, state), getattr(rank1, state)]))
    else:
        rank0.merge_state(rank1)
    assert float(rank0.compute()) == pytest.approx(score(FACTORIES[name](), concat(batches)), abs=1e-5)


@pytest.mark.parametrize("name", sorted(set(FACTORIES) - {"pearson"}))
def test_states_are_summed_counts(name: str) -> None:
    metric = FACTORIES[name]()
    for state in metric._defaults:
        assert metric._reductions[state].__name__ == "dim_zero_sum"
        assert metric._defaults[state].dtype == torch.long


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_reset_clears_state(name: str) -> None:
    batches = batches_for(name, random.Random(3))
    metric = FACTORIES[name]()
    score(metric, batches[0])
    metric.reset()
    for state, default in metric._defaults.items():
        assert torch.equal(getattr(metric, state), default), state
    assert score(metric, batches[1]) == pytest.approx(score(FACTORIES[name](), batches[1]), abs=1e-6)


def test_forward_gives_the_batch_score_and_accumulates() -> None:
    metric = EntityF1()
    assert float(metric([["B", "O"]], [["B", "O"]])) == 1.0
    assert float(metric([["O", "O"]], [["B", "O"]])) == 0.0
    assert float(metric.compute()) == pytest.approx(2 / 3)


# --- factory ---------------------------------------------------------------------------------------
def test_build_metric_for_every_name() -> None:
    chemprot = ["false", "CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9"]
    built = {
        "pearson": build_metric("pearson"),
        "entity_f1": build_metric("entity_f1", labels=["B", "I", "O"], strict=True),
        "pico_macro_f1": build_metric("pico_macro_f1", labels=PICO),
        "micro_f1": build_metric("micro_f1", labels=chemprot, negative_label="false"),
        "positive_f1": build_metric("positive_f1", labels=["0", "1"], negative_label="0"),
        "multilabel_micro_f1": build_metric("multilabel_micro_f1", labels=HOC_LABELS),
        "accuracy": build_metric("accuracy", labels=["yes", "no", "maybe"]),
    }
    assert set(built) == set(METRICS)
    assert isinstance(built["pearson"], PearsonCorrCoef)
    assert isinstance(built["entity_f1"], EntityF1) and built["entity_f1"].strict
    assert built["pico_macro_f1"].classes == ["I-PAR", "I-INT", "I-OUT"]
    assert (built["micro_f1"].num_classes, built["micro_f1"].negative_index) == (6, 0)
    assert build_metric("positive_f1", labels=["yes", "no"], negative_label="yes").positive_index == 1
    assert built["positive_f1"].positive_index == 1
    assert built["multilabel_micro_f1"].num_labels == 10
    assert isinstance(built["accuracy"], Accuracy)
    assert build_metric("accuracy") is not build_metric("accuracy")  # a fresh metric each call


def test_build_metric_rejects_bad_config() -> None:
    with pytest.raises(ConfigError, match="task.metric.*allowed: pearson, entity_f1"):
        build_metric("f1")
    with pytest.raises(ConfigError, match="task.negative_label"):
        build_metric("micro_f1", labels=["0", "DDI-effect"])
    with pytest.raises(ConfigError, match="task.negative_label"):
        build_metric("positive_f1", labels=["0", "1"], negative_label="2")
    with pytest.raises(ConfigError, match="task.labels"):
        build_metric("positive_f1", labels=["a", "b", "c"], negative_label="a")
    for name in ("pico_macro_f1", "micro_f1", "multilabel_micro_f1"):
        with pytest.raises(ConfigError, match="task.labels"):
            build_metric(name, negative_label="O")


def test_factory_metrics_agree_with_references_end_to_end() -> None:
    """A ChemProt-like micro F1 built from label names, scored the way a task scores it."""
    labels = ["false", "CPR:3", "CPR:4"]
    gold, pred = np.array([0, 1, 2, 2, 0, 1]), np.array([1, 1, 2, 0, 0, 2])
    metric = build_metric("micro_f1", labels=labels, negative_label="false")
    expected = f1_score(gold, pred, labels=[1, 2], average="micro", zero_division=0)
    assert score(metric, (torch.from_numpy(pred), torch.from_numpy(gold))) == pytest.approx(expected)
