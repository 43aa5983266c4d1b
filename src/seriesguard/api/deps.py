"""FastAPI dependencies: the runtime's services, typed with ``Annotated``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from seriesguard.api.security import Authorize
from seriesguard.core.authz import Permission
from seriesguard.promotion.service import ModelService
from seriesguard.runtime import Runtime
from seriesguard.serving.predictor import Predictor
from seriesguard.store.audit import AuditRepository
from seriesguard.training.service import TrainingService


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_training(request: Request) -> TrainingService:
    return get_runtime(request).training


def get_models(request: Request) -> ModelService:
    return get_runtime(request).models


def get_predictor(request: Request) -> Predictor:
    return get_runtime(request).predictor


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TrainingDep = Annotated[TrainingService, Depends(get_training)]
ModelsDep = Annotated[ModelService, Depends(get_models)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]


def allow(permission: Permission) -> Any:
    """The policy of a route, for its ``dependencies`` or for a parameter that wants the
    caller: ``caller: Annotated[Principal, allow(Permission.TRAIN)]``."""
    return Depends(Authorize(permission))


def get_audit(request: Request) -> AuditRepository:
    return get_runtime(request).audit


AuditDep = Annotated[AuditRepository, Depends(get_audit)]
