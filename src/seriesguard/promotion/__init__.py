"""Model versions, stages and promotion: MLflow first, then the catalog, then the predictors."""
