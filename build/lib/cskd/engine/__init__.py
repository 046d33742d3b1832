"""Training: the recipe, checkpoints, and the loop that trains one or several students on one teacher stream."""
