local x = input { 2 }
minimize(sigmoidd(x))
