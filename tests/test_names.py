"""Name resolution: ids, aliases, normalisation, ambiguity and suggestions."""

from __future__ import annotations

import pytest

from llmplan.catalog.loader import Catalog, Registry, normalise_name
from llmplan.catalog.schema import KvFormat
from llmplan.errors import (
    CatalogError,
    ConfigurationError,
    DoesNotFitError,
    InputError,
    LlmplanError,
    UnknownNameError,
)

H100 = "H100-SXM-80GB"


@pytest.mark.parametrize(
    "name",
    [
        "H100",  # alias
        "h100-sxm",  # alias, lower case
        "H100-SXM-80GB",  # the id
        "H100-SXM5-80GB",  # alias (README)
        "H100 SXM5 80GB",  # spaces read as hyphens
        "h100_sxm5_80gb",  # underscores read as hyphens
        "  H100  ",  # surrounding blanks ignored
        "NVIDIA-H100-80GB-HBM3",  # what nvidia-smi prints
    ],
)
def test_h100_spellings_resolve_to_one_gpu(catalog: Catalog, name: str) -> None:
    assert catalog.gpu(name).id == H100


def test_normalise_name() -> None:
    assert normalise_name("  H100 SXM5_80GB ") == "h100-sxm5-80gb"
    assert normalise_name("Meta_Llama 3") == "meta-llama-3"
    assert normalise_name("a  \t b") == "a-b"


def test_a100_is_ambiguous_and_lists_choices(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.gpu("A100")
    message = str(info.value)
    assert "ambiguous" in message
    # every A100 variant of the catalog is offered
    a100s = [g.id for g in catalog.gpus if g.id.upper().startswith("A100")]
    assert len(a100s) >= 2
    for gpu_id in a100s:
        assert gpu_id in message
    assert info.value.field == "gpu"


def test_a100_with_memory_is_not_ambiguous(catalog: Catalog) -> None:
    assert catalog.gpu("A100-40GB").id == "A100-SXM-40GB"
    assert catalog.gpu("A100-80GB").memory_gib == pytest.approx(80, abs=1e-9)


def test_unknown_gpu_close_to_a_known_one_suggests_it(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.gpu("RTX-409")
    message = str(info.value)
    assert "did you mean" in message
    assert "rtx-4090" in message.lower()
    assert info.value.field == "gpu"


def test_unknown_model_close_to_a_known_one_suggests_it(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.model("lama-3.1-70b")
    message = str(info.value)
    assert "did you mean" in message
    assert "llama-3.1-70b" in message.lower()
    assert info.value.field == "model"


def test_unknown_name_far_from_everything_has_no_suggestion(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.gpu("zzzzqqqq")
    assert "did you mean" not in str(info.value)
    assert "zzzzqqqq" in str(info.value)


def test_unknown_name_error_is_keyerror_valueerror_and_llmplan_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.model("no-such-model-xyz")
    error = info.value
    assert isinstance(error, KeyError)
    assert isinstance(error, ValueError)
    assert isinstance(error, LlmplanError)
    assert isinstance(error, InputError)
    # str() is the plain message, not KeyError's quoted repr
    assert not str(error).startswith(("'", '"'))
    # each built-in can catch it
    for builtin in (KeyError, ValueError, LlmplanError):
        with pytest.raises(builtin):
            catalog.gpu("no-such-gpu-xyz")


def test_error_tree() -> None:
    assert issubclass(ConfigurationError, InputError)
    assert issubclass(InputError, ValueError)
    assert issubclass(CatalogError, ValueError)
    assert issubclass(CatalogError, LlmplanError)
    assert issubclass(DoesNotFitError, ValueError)
    assert issubclass(DoesNotFitError, LlmplanError)
    assert not issubclass(DoesNotFitError, InputError)


def test_error_message_names_its_field_once() -> None:
    assert str(InputError("must be > 0", field="batch")) == "batch: must be > 0"
    assert str(InputError("batch must be > 0", field="batch")) == "batch must be > 0"
    assert str(InputError("plain")) == "plain"


@pytest.mark.parametrize(
    "name",
    [
        "meta-llama/Llama-3.1-70B-Instruct",
        "meta-llama/Llama-3.1-70B",
        "Llama-3.1-70B",  # the part after the organisation
        "llama-3.1-70b",
        "LLAMA 3.1 70B",
        "meta-llama/Meta-Llama-3.1-70B-Instruct",
    ],
)
def test_model_aliases_resolve(catalog: Catalog, name: str) -> None:
    assert catalog.model(name).id == "meta-llama/Llama-3.1-70B"


def test_instruct_and_base_models_are_distinct_where_architectures_differ(
    catalog: Catalog,
) -> None:
    assert catalog.model("Llama-3.1-8B").id != catalog.model("Llama-3.1-70B").id
    assert catalog.model("meta-llama/Llama-3.1-8B-Instruct").id == "meta-llama/Llama-3.1-8B"


def test_ambiguous_model_prefix_lists_choices(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.model("gpt-oss")
    message = str(info.value)
    assert "ambiguous" in message
    assert "openai/gpt-oss-20b" in message and "openai/gpt-oss-120b" in message


def test_format_and_engine_names_resolve(catalog: Catalog) -> None:
    assert catalog.weight_format("AWQ").id == "int4-awq"
    assert catalog.weight_format("fp8").id == "fp8"
    assert catalog.kv_format("auto").id == "fp16"
    assert catalog.engine("vLLM").id == "vllm"
    with pytest.raises(UnknownNameError) as info:
        catalog.weight_format("int3-magic")
    assert info.value.field == "precision"
    with pytest.raises(UnknownNameError) as info:
        catalog.engine("no-such-engine")
    assert info.value.field == "engine"


def _kv(id_: str, *aliases: str) -> KvFormat:
    return KvFormat(
        id=id_,
        aliases=aliases,
        bits_per_element=8,
        description="test",
        source="test source",
        source_date="2024-01-01",  # type: ignore[arg-type]
    )


def test_registry_rejects_names_that_clash_after_normalisation() -> None:
    with pytest.raises(CatalogError, match="Foo_Bar"):
        Registry("kv_precision", (_kv("a", "foo-bar"), _kv("b", "Foo_Bar")))


def test_registry_allows_an_entry_to_repeat_its_own_name() -> None:
    registry = Registry("kv_precision", (_kv("a", "A", "a"),))
    assert registry.get("A").id == "a"
