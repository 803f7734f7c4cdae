"""What the training stages share: artefact names, scoring, MLflow tracking, plots."""
