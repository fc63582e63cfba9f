local x = input { -3 }
minimize(sum(x))
