"""Templates and articles as ops write them (web form, REST, YAML), validated."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import InvalidInput

Draft = TypeVar("Draft", bound=BaseModel)


class KeywordSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phrase: str = Field(min_length=1, max_length=200)
    weight: float = Field(default=1.0, gt=0, le=100)

    @field_validator("phrase")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("a keyword needs some text")
        return value


class TemplateDraft(BaseModel):
    """A template as ops write it (web form, REST, YAML)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    language: str = Field(default="", max_length=16)
    subject: str = Field(default="", max_length=500)
    body: str = Field(default="", max_length=100_000)
    html: bool = False
    category: str = Field(default="", max_length=80)  # e.g. "billing": routing rules may select on it
    keywords: list[KeywordSpec] = Field(default_factory=list, max_length=200)
    exclusions: list[str] = Field(default_factory=list, max_length=100)
    active: bool = True

    @field_validator("category")
    @classmethod
    def _tidy_category(cls, value: str) -> str:
        return " ".join(value.split())

    @field_validator("keywords", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        """Also accept ``- refund`` (weight 1) and ``- refund: 3`` in YAML."""
        if not isinstance(value, list):
            return value
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                out.append({"phrase": item})
            elif isinstance(item, dict) and len(item) == 1 and "phrase" not in item:
                ((phrase, weight),) = item.items()
                out.append({"phrase": str(phrase), "weight": weight})
            else:
                out.append(item)
        return out

    @field_validator("exclusions")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return [" ".join(v.split()) for v in value if v.strip()]


class ArticleDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=200_000)
    language: str = Field(default="", max_length=16)
    tags: list[str] = Field(default_factory=list, max_length=50)
    published: bool = False


def _parse(model: type[Draft], data: Any, what: str) -> Draft:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
                  for err in exc.errors(include_input=False, include_url=False)]
        raise InvalidInput(f"the {what} is not valid", {"errors": errors}) from None


def parse_template(data: Any) -> TemplateDraft:
    return _parse(TemplateDraft, data, "template")


def parse_article(data: Any) -> ArticleDraft:
    return _parse(ArticleDraft, data, "article")
