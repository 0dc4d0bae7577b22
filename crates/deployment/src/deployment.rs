pub struct Deployment;
