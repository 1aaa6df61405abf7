"""Remote reward: score completions with the same rule the trainer uses."""

from __future__ import annotations

from fastapi import APIRouter

from app.api_models import ScoreRequest, ScoreResponse
from app.auth import ComputeDep
from app.errors import InvalidInput
from training.rewards.scoring import score_completion

router = APIRouter(prefix="/v1/rewards", tags=["rewards"])


@router.post("/score", response_model=ScoreResponse)
def score(body: ScoreRequest, _: ComputeDep) -> ScoreResponse:
    """Score each completion against its sample's ground truth (tiered or binary); open like reads."""
    if len(body.samples) != len(body.completions):
        raise InvalidInput(f"samples ({len(body.samples)}) and completions ({len(body.completions)}) "
                           "must have the same length")
    details = []
    for i, (sample, text) in enumerate(zip(body.samples, body.completions, strict=True)):
        ground_truth = (sample.get("reward_model") or {}).get("ground_truth")
        if ground_truth is None:
            raise InvalidInput(f"samples/{i}: missing reward_model.ground_truth")
        try:
            result = score_completion(text, ground_truth, sample.get("tools"), body.mode)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(f"samples/{i}: {exc}") from exc
        details.append(result.as_dict())
    rewards = [d["reward"] for d in details]
    return ScoreResponse(rewards=rewards, details=details, mean=sum(rewards) / len(rewards) if rewards else 0.0)
