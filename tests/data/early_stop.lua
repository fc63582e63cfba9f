-- linear regression with a validation quarter and early stopping: stops
-- long before its 500 epochs (test_trainer.sh, test_trainer_workflow.sh)
model "es"
data = linreg { n = 400, d = 5, noise = 0.5, valid = 0.25 }
local x = input { 5 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.05 }
train { batch = 20, epochs = 500, early_stopping = { patience = 3, min_delta = 1e-4 } }
